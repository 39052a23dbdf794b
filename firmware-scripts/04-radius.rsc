# SitePulse: RADIUS at the edge. The router asks the SitePulse agent (its
# RADIUS server) about hotspot and PPPoE logins it has no local user or
# secret for, sends it accounting, and takes Disconnect/CoA from it.
# Run after 01-03: /import file-name=04-radius.rsc
# Re-running is safe: the SitePulse /radius entry is updated, not duplicated.

# ---- variables ------------------------------------------------------------
# The agent's address as the router reaches it: the container (02) or the
# Linux box next to the router.
:local spAgent "172.17.0.2"
:local spSubnet "172.17.0.0/24"
:local spAuthPort "1812"
:local spAcctPort "1813"
# A long random shared secret; give the agent the same one
# (--radius-secret-file or SITEPULSE_RADIUS_SECRET). It never leaves the site.
:local spSecret "CHANGE-ME-radius-secret"

# ---- the agent as RADIUS server -------------------------------------------
# An entry already pointing at the agent (made by hand) is adopted rather
# than duplicated. RouterOS's default timeout (300ms) is short for a
# container that answers from its own database: 3s.
/radius
set [find address=$spAgent] comment="SitePulse agent"
:if ([:len [find comment="SitePulse agent"]] = 0) do={ add service=hotspot,ppp address=$spAgent secret=$spSecret authentication-port=$spAuthPort accounting-port=$spAcctPort timeout=3s comment="SitePulse agent" }
set [find comment="SitePulse agent"] service=hotspot,ppp address=$spAgent secret=$spSecret authentication-port=$spAuthPort accounting-port=$spAcctPort timeout=3s disabled=no

# ---- Disconnect and CoA from the agent (kicks, plan changes) --------------
/radius incoming
set accept=yes port=3799

# The default configuration drops input from outside the LAN list: let the
# agent's subnet reach port 3799, above the first input-chain drop rule.
/ip firewall filter
:if ([:len [find comment="SitePulse agent RADIUS incoming"]] = 0) do={ add chain=input action=accept protocol=udp src-address=$spSubnet dst-port=3799 comment="SitePulse agent RADIUS incoming" }
:if ([:len [find chain=input action=drop]] > 0) do={ move [find comment="SitePulse agent RADIUS incoming"] destination=[:pick [find chain=input action=drop] 0] }

# ---- hotspot and PPP ask RADIUS -------------------------------------------
# Local /ip hotspot user and /ppp secret entries still win: RouterOS asks
# RADIUS only for a name it does not have. Accounting interim updates come
# at the interval the agent answers with (radius-interim-update=received,
# the default); PPP's own interval is 1m.
/ip hotspot profile
set [find] use-radius=yes radius-accounting=yes

/ppp aaa
set use-radius=yes accounting=yes interim-update=1m
