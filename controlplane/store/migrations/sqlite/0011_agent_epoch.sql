-- An agent's seq space (protocol.EventBatch.Epoch). A reinstalled agent,
-- or one that lost its database, starts again at seq 1 under a new epoch;
-- without this its events would be skipped as already applied.
ALTER TABLE routers ADD COLUMN epoch TEXT NOT NULL DEFAULT '';

-- Epochs a router's agent has left behind, with the last seq applied in
-- each. Batches from a retired epoch (an old copy of the agent still
-- running, a late redelivery) are refused, so two epochs never alternate.
CREATE TABLE router_epochs (
    router_id  TEXT NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    epoch      TEXT NOT NULL,
    last_seq   INTEGER NOT NULL,
    retired_at TIMESTAMP NOT NULL,
    PRIMARY KEY (router_id, epoch)
);
