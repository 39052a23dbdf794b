# SitePulse: least-privilege RouterOS API access for the agent.
# Run once per router: /import file-name=01-agent-api-user.rsc
# Re-running is safe: existing items are updated, not duplicated.

# ---- variables ------------------------------------------------------------
:local spGroup "sitepulse-agent"
:local spUser "sitepulse"
# Set a long random password and give the same one to the agent
# (--router-password-file). Never reuse the admin password.
:local spPassword "CHANGE-ME-long-random"
# Address the agent connects from: the container subnet (172.17.0.0/24)
# or the Linux box next to the router (e.g. 192.168.88.10/32).
:local spAgentAddress "172.17.0.0/24"

# ---- group: only what the agent needs -------------------------------------
# read: print/listen sessions, resources; write: provisioning commands;
# api: the API service itself. No ftp, ssh, winbox, web, policy, sensitive,
# reboot, password, sniff, romon or test.
/user group
:if ([:len [find name=$spGroup]] = 0) do={ add name=$spGroup policy="read,write,api,!local,!telnet,!ssh,!ftp,!reboot,!policy,!test,!winbox,!password,!web,!sniff,!sensitive,!romon,!rest-api" comment="SitePulse agent" }
set [find name=$spGroup] policy="read,write,api,!local,!telnet,!ssh,!ftp,!reboot,!policy,!test,!winbox,!password,!web,!sniff,!sensitive,!romon,!rest-api"

# ---- user -----------------------------------------------------------------
/user
:if ([:len [find name=$spUser]] = 0) do={ add name=$spUser group=$spGroup password=$spPassword address=$spAgentAddress comment="SitePulse agent" }
set [find name=$spUser] group=$spGroup password=$spPassword address=$spAgentAddress

# ---- API service: only from the agent -------------------------------------
# This replaces the service's address list: if other tools use the API,
# add their addresses to spAgentAddress (comma-separated).
# Use api-ssl (8729) when the agent is not on the router's own container
# network; give it a certificate first (/certificate).
/ip service
set [find name=api] disabled=no address=$spAgentAddress port=8728
