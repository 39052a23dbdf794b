# SitePulse: network for the agent container (RouterOS 7 with the container
# package and /system/device-mode container=yes).
# Re-running is safe.

# ---- variables ------------------------------------------------------------
:local spVeth "veth-sitepulse"
:local spBridge "br-sitepulse"
:local spContainerAddress "172.17.0.2/24"
:local spGateway "172.17.0.1"
:local spGatewayAddress "172.17.0.1/24"
:local spSubnet "172.17.0.0/24"

# ---- veth and bridge ------------------------------------------------------
/interface veth
:if ([:len [find name=$spVeth]] = 0) do={ add name=$spVeth address=$spContainerAddress gateway=$spGateway comment="SitePulse agent" }

/interface bridge
:if ([:len [find name=$spBridge]] = 0) do={ add name=$spBridge comment="SitePulse agent" }

/interface bridge port
:if ([:len [find interface=$spVeth]] = 0) do={ add bridge=$spBridge interface=$spVeth comment="SitePulse agent" }

/ip address
:if ([:len [find interface=$spBridge]] = 0) do={ add address=$spGatewayAddress interface=$spBridge comment="SitePulse agent" }

# ---- NAT out to the control plane ------------------------------------------
/ip firewall nat
:if ([:len [find comment="SitePulse agent masquerade"]] = 0) do={ add chain=srcnat action=masquerade src-address=$spSubnet comment="SitePulse agent masquerade" }

# ---- allow the container to reach the API service only --------------------
/ip firewall filter
:if ([:len [find comment="SitePulse agent API"]] = 0) do={ add chain=input action=accept protocol=tcp src-address=$spSubnet dst-port=8728 comment="SitePulse agent API" }
# Move this rule above any input-chain drop rule (/ip firewall filter move).

