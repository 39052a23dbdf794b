# SitePulse: remove everything the other scripts created.
# The agent's outbox in disk1/sitepulse-data is kept; delete it by hand
# (/file remove) once you no longer need unsent events.

:local spGroup "sitepulse-agent"
:local spUser "sitepulse"
:local spVeth "veth-sitepulse"
:local spBridge "br-sitepulse"
:local spEnvList "sitepulse"
:local spMountList "sitepulse-data"

/container
stop [find comment="SitePulse agent"]
remove [find comment="SitePulse agent"]

/container envs
remove [find list=$spEnvList]

/container mounts
remove [find list=$spMountList]

/ip firewall filter
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

/ip service
set [find name=api] address=""
