# SitePulse: import and start the agent container.
# Needs RouterOS 7.21 or later (envs and mounts use list=, the container
# mountlists=); on 7.20 and earlier write name= for list= in /container envs
# and /container mounts, and mounts= for mountlists=.
# Copy sitepulse-agent-<arch>.tar to the router first (arm, arm64 or x86:
# see /system/resource architecture-name), e.g. to disk1/.
# Re-running is safe: envs are updated, the container is added once.
# Afterwards /container print should show the container running (R).

# ---- variables ------------------------------------------------------------
:local spFile "disk1/sitepulse-agent.tar"
:local spRootDir "disk1/sitepulse-agent"
:local spDataDir "disk1/sitepulse-data"
:local spTmpDir "disk1/tmp"
:local spVeth "veth-sitepulse"
:local spEnvList "sitepulse"
:local spMountList "sitepulse-data"
:local spRouterID "r0123456789ab"
:local spMQTTURL "ssl://mqtt.example.net:8883"
:local spMQTTSecret "CHANGE-ME-agent-secret"
:local spRouterPassword "CHANGE-ME-long-random"
:local spRouterAddr "172.17.0.1:8728"

# ---- container settings -----------------------------------------------------
# Keep extraction off the internal flash. The registry settings are left
# alone: other containers on this router may pull from one.
/container config
set tmpdir=$spTmpDir

# ---- environment ------------------------------------------------------------
/container envs
:if ([:len [find list=$spEnvList key="SITEPULSE_ROUTER_ID"]] = 0) do={ add list=$spEnvList key="SITEPULSE_ROUTER_ID" value=$spRouterID }
set [find list=$spEnvList key="SITEPULSE_ROUTER_ID"] value=$spRouterID
:if ([:len [find list=$spEnvList key="SITEPULSE_ROUTER_ADDR"]] = 0) do={ add list=$spEnvList key="SITEPULSE_ROUTER_ADDR" value=$spRouterAddr }
set [find list=$spEnvList key="SITEPULSE_ROUTER_ADDR"] value=$spRouterAddr
:if ([:len [find list=$spEnvList key="SITEPULSE_ROUTER_USER"]] = 0) do={ add list=$spEnvList key="SITEPULSE_ROUTER_USER" value="sitepulse" }
set [find list=$spEnvList key="SITEPULSE_ROUTER_USER"] value="sitepulse"
:if ([:len [find list=$spEnvList key="SITEPULSE_ROUTER_PASSWORD"]] = 0) do={ add list=$spEnvList key="SITEPULSE_ROUTER_PASSWORD" value=$spRouterPassword }
set [find list=$spEnvList key="SITEPULSE_ROUTER_PASSWORD"] value=$spRouterPassword
:if ([:len [find list=$spEnvList key="SITEPULSE_MQTT_URL"]] = 0) do={ add list=$spEnvList key="SITEPULSE_MQTT_URL" value=$spMQTTURL }
set [find list=$spEnvList key="SITEPULSE_MQTT_URL"] value=$spMQTTURL
:if ([:len [find list=$spEnvList key="SITEPULSE_MQTT_SECRET"]] = 0) do={ add list=$spEnvList key="SITEPULSE_MQTT_SECRET" value=$spMQTTSecret }
set [find list=$spEnvList key="SITEPULSE_MQTT_SECRET"] value=$spMQTTSecret
:if ([:len [find list=$spEnvList key="SITEPULSE_DATA_DIR"]] = 0) do={ add list=$spEnvList key="SITEPULSE_DATA_DIR" value="/data" }
set [find list=$spEnvList key="SITEPULSE_DATA_DIR"] value="/data"

# ---- persistent outbox: survives container upgrades -------------------------
/container mounts
:if ([:len [find list=$spMountList]] = 0) do={ add list=$spMountList src=$spDataDir dst="/data" }
set [find list=$spMountList] src=$spDataDir dst="/data"

# ---- the container ----------------------------------------------------------
# RouterOS extracts the image first (extracting=yes) and refuses to start
# it until that is done: wait up to a minute, then start it if it is
# stopped (a running one is left alone). Since 7.20 the state is these
# flags; the old status property is gone.
/container
:if ([:len [find comment="SitePulse agent"]] = 0) do={ add file=$spFile interface=$spVeth root-dir=$spRootDir envlist=$spEnvList mountlists=$spMountList start-on-boot=yes logging=yes comment="SitePulse agent" }
:for i from=1 to=60 do={ :if ([:len [find comment="SitePulse agent" extracting=yes]] > 0) do={ :delay 1s } }
start [find comment="SitePulse agent" stopped=yes]
