# SitePulse: remove everything the other scripts created.
# The agent's outbox in disk1/sitepulse-data is kept; delete it by hand
# (/file remove) once you no longer need unsent events.

:local spGroup "sitepulse-agent"
:local spUser "sitepulse"
:local spVeth "veth-sitepulse"
:local spBridge "br-sitepulse"
:local spEnvList "sitepulse"
:local spMountList "sitepulse-data"

# A container must be stopped before it can be removed, and stopping takes
# a moment (stopping=yes): wait for that (and for an extraction still
# under way) up to a minute each. Needs RouterOS 7.20 or later, like 03.
/container
:for i from=1 to=60 do={ :if ([:len [find comment="SitePulse agent" extracting=yes]] > 0) do={ :delay 1s } }
stop [find comment="SitePulse agent" running=yes]
:for i from=1 to=60 do={ :if ([:len [find comment="SitePulse agent" stopping=yes]] > 0) do={ :delay 1s } }
remove [find comment="SitePulse agent"]

/container envs
remove [find list=$spEnvList]

/container mounts
remove [find list=$spMountList]

# RADIUS (04): back to RouterOS's defaults, local users only.
/ppp aaa
set use-radius=no interim-update=0s

/ip hotspot profile
set [find] use-radius=no

/radius incoming
set accept=no

/radius
remove [find comment="SitePulse agent"]

/ip firewall filter
remove [find comment="SitePulse agent RADIUS incoming"]
remove [find comment="SitePulse agent API"]

/ip firewall nat
remove [find comment="SitePulse agent masquerade"]

/ip address
remove [find interface=$spBridge]

/interface bridge port
remove [find interface=$spVeth]

/interface bridge
remove [find name=$spBridge]

/interface veth
remove [find name=$spVeth]

/user
remove [find name=$spUser]

/user group
remove [find name=$spGroup]

# The api service is left enabled; its address list is cleared (any
# address), which is RouterOS's default. Restore your own list if you had
# one. /container config tmpdir is left as set: other containers may use it.
/ip service
set [find name=api] address=""
