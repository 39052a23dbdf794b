# SitePulse: send this router's hotspot customers to the SitePulse portal.
# Needs a hotspot server set up first (/ip hotspot setup) and RouterOS 7
# with /file add (7.9 or later). Upload the script, then run it once:
#   /import file-name=hotspot-portal.rsc
# Re-running is safe: the pages are rewritten only when they differ, the
# walled-garden entries are added once (and follow spPortalHost).
# What it changes: the hotspot server profile's html-directory and
# login-by, login.html, alogin.html, status.html and logout.html in that
# directory, and one walled-garden entry plus one walled-garden ip entry
# for the control plane's host (comment "SitePulse portal"). Nothing else.

# ---- variables ------------------------------------------------------------
# The portal URL of this router, from the dashboard (Portal settings).
:local spPortalURL "https://cp.example.com/portal/7/r123"
# The host name in spPortalURL: the only host a customer may reach before
# logging in.
:local spPortalHost "cp.example.com"
# The hotspot server profile (/ip hotspot profile print; hsprof1 after
# /ip hotspot setup) and its html directory (flash/hotspot on devices
# with a flash folder).
:local spProfile "hsprof1"
:local spHtmlDir "hotspot"
# The portal logs in with CHAP when the phone runs JavaScript and with a
# plain password (PAP) when it does not: both must be allowed. Keep cookie
# (re-login without the page); add mac or trial here if you use them.
:local spLoginBy "cookie,http-chap,http-pap"

# login.html forwards every variable RouterOS gives the login page to the
# portal. A GET form (submitted by script, or by the button without
# JavaScript) lets the browser URL-encode the values, which RouterOS
# inserts as they are. chap-id and chap-challenge arrive octal-escaped
# (\ooo per byte), as RouterOS writes them for md5.js.
:local spLogin "<!DOCTYPE html>\n\
    <html><head><meta charset=\"utf-8\">\n\
    <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n\
    <meta http-equiv=\"pragma\" content=\"no-cache\"><meta http-equiv=\"expires\" content=\"-1\">\n\
    <title>\$(identity)</title></head>\n\
    <body onload=\"document.forms[0].submit()\" style=\"font-family:sans-serif;text-align:center;padding-top:3em\">\n\
    <form action=\"$spPortalURL\" method=\"get\">\n\
    <input type=\"hidden\" name=\"mac\" value=\"\$(mac)\">\n\
    <input type=\"hidden\" name=\"ip\" value=\"\$(ip)\">\n\
    <input type=\"hidden\" name=\"username\" value=\"\$(username)\">\n\
    <input type=\"hidden\" name=\"link-login-only\" value=\"\$(link-login-only)\">\n\
    <input type=\"hidden\" name=\"link-orig\" value=\"\$(link-orig)\">\n\
    <input type=\"hidden\" name=\"chap-id\" value=\"\$(chap-id)\">\n\
    <input type=\"hidden\" name=\"chap-challenge\" value=\"\$(chap-challenge)\">\n\
    <input type=\"hidden\" name=\"error\" value=\"\$(error)\">\n\
    <p>Opening the login page...</p>\n\
    <noscript><button type=\"submit\">Continue</button></noscript>\n\
    </form></body></html>\n"

# alogin.html: shown once the router has logged the phone in; goes on to
# the page first asked for (dst, which the portal passes on).
:local spALogin "<!DOCTYPE html>\n\
    <html><head><meta charset=\"utf-8\">\n\
    <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n\
    <meta http-equiv=\"refresh\" content=\"1; url=\$(link-redirect)\">\n\
    <title>Online</title></head>\n\
    <body style=\"font-family:sans-serif;text-align:center;padding-top:3em\">\n\
    <p>You are online\$(if username) as \$(username)\$(endif).</p>\n\
    <p><a href=\"\$(link-redirect)\">Continue</a> | <a href=\"\$(link-status)\">Status</a></p>\n\
    </body></html>\n"

# status.html: the session of a logged-in phone, with a log-out button.
:local spStatus "<!DOCTYPE html>\n\
    <html><head><meta charset=\"utf-8\">\n\
    <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n\
    \$(if refresh-timeout)<meta http-equiv=\"refresh\" content=\"\$(refresh-timeout-secs)\">\$(endif)\n\
    <title>Status</title></head>\n\
    <body style=\"font-family:sans-serif;text-align:center;padding-top:3em\">\n\
    <p>Online as \$(username) (\$(ip))</p>\n\
    <p>Connected \$(uptime)\$(if session-time-left), \$(session-time-left) left\$(endif)</p>\n\
    <p>Up \$(bytes-in-nice), down \$(bytes-out-nice)</p>\n\
    <form action=\"\$(link-logout)\" method=\"post\"><input type=\"hidden\" name=\"erase-cookie\" value=\"on\">\n\
    <button type=\"submit\">Log out</button></form>\n\
    </body></html>\n"

# logout.html: after logging out, a way back to the portal.
:local spLogout "<!DOCTYPE html>\n\
    <html><head><meta charset=\"utf-8\">\n\
    <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n\
    <title>Logged out</title></head>\n\
    <body style=\"font-family:sans-serif;text-align:center;padding-top:3em\">\n\
    <p>You have logged out, \$(username). Time online: \$(uptime).</p>\n\
    <p><a href=\"\$(link-login)\">Log in again</a></p>\n\
    </body></html>\n"

# ---- hotspot server profile ---------------------------------------------------
/ip hotspot profile
set [find name=$spProfile] html-directory=$spHtmlDir login-by=$spLoginBy

# ---- pages: written only when missing or different ---------------------------
/file
:if ([:len [find name="$spHtmlDir/login.html"]] = 0) do={ add name="$spHtmlDir/login.html" contents=$spLogin }
:if ([:len [find name="$spHtmlDir/login.html" contents=$spLogin]] = 0) do={ set [find name="$spHtmlDir/login.html"] contents=$spLogin }
:if ([:len [find name="$spHtmlDir/alogin.html"]] = 0) do={ add name="$spHtmlDir/alogin.html" contents=$spALogin }
:if ([:len [find name="$spHtmlDir/alogin.html" contents=$spALogin]] = 0) do={ set [find name="$spHtmlDir/alogin.html"] contents=$spALogin }
:if ([:len [find name="$spHtmlDir/status.html"]] = 0) do={ add name="$spHtmlDir/status.html" contents=$spStatus }
:if ([:len [find name="$spHtmlDir/status.html" contents=$spStatus]] = 0) do={ set [find name="$spHtmlDir/status.html"] contents=$spStatus }
:if ([:len [find name="$spHtmlDir/logout.html"]] = 0) do={ add name="$spHtmlDir/logout.html" contents=$spLogout }
:if ([:len [find name="$spHtmlDir/logout.html" contents=$spLogout]] = 0) do={ set [find name="$spHtmlDir/logout.html"] contents=$spLogout }

# ---- walled garden: the control plane's host, before login ---------------------
# The walled garden lets plain HTTP to the host through the hotspot's
# proxy; an https portal is not proxied, so the phone's TLS connection to
# it needs the IP-level entry (dst-host is resolved to the host's
# addresses, also when they change). Both are for spPortalHost only.
/ip hotspot walled-garden
:if ([:len [find comment="SitePulse portal"]] = 0) do={ add dst-host=$spPortalHost action=allow comment="SitePulse portal" }
set [find comment="SitePulse portal"] dst-host=$spPortalHost action=allow

/ip hotspot walled-garden ip
:if ([:len [find comment="SitePulse portal"]] = 0) do={ add dst-host=$spPortalHost action=accept comment="SitePulse portal" }
set [find comment="SitePulse portal"] dst-host=$spPortalHost action=accept
