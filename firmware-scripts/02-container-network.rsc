# SitePulse: network for the agent container (RouterOS 7 with the container
# package and /system/device-mode container=yes).
# Re-running is safe.

# ---- variables ------------------------------------------------------------
# From RouterOS 7.20 the container sees the veth under its own name, and
# names over 14 characters are reported to fail there: keep spVeth short.
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
# The default configuration drops input from interfaces outside the LAN
# list, and the container bridge is not in it: the accept rule must sit
# above the first input-chain drop rule, so it is moved there (again on
# every run, which keeps it in place).
/ip firewall filter
:if ([:len [find comment="SitePulse agent API"]] = 0) do={ add chain=input action=accept protocol=tcp src-address=$spSubnet dst-port=8728 comment="SitePulse agent API" }
:if ([:len [find chain=input action=drop]] > 0) do={ move [find comment="SitePulse agent API"] destination=[:pick [find chain=input action=drop] 0] }

