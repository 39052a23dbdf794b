// Package radius is the RADIUS server the agent runs for its router
// (RFC 2865 authentication, RFC 2866 accounting) and the client of the
// router's RFC 5176 Dynamic Authorization port (Disconnect- and
// CoA-Requests). It knows nothing of MQTT or SQLite: accounts, decisions
// and durable accounting come from a Decider, which the agent implements
// over its synced copy. Packets and attributes are layeh.com/radius's;
// this package adds what that library leaves to servers: the
// Message-Authenticator MAC, duplicate detection and the password checks.
//
// # Authentication
//
// An Access-Request proves its password with PAP (User-Password), CHAP
// (CHAP-Password over CHAP-Challenge, or over the request authenticator
// when there is none), MS-CHAPv2 (MS-CHAP-Challenge and MS-CHAP2-Response,
// as RouterOS's PPPoE sends) or MS-CHAP v1 (what radtest -t mschap sends).
// The Decider's Secret holds the clear text or only the NT hash: PAP and
// both MS-CHAPs work from the hash, CHAP needs the clear text. An unknown
// user and a wrong password get the same Access-Reject ("invalid username
// or password"), so the login page tells nobody which accounts exist. Once
// the password checks out, Decider.Decide gives the Accept and its limits
// (Mikrotik-Rate-Limit, Session-Timeout, Acct-Interim-Interval,
// Mikrotik-Total-Limit(-Gigawords), Framed-Pool, Mikrotik-Group) or a
// reject whose Reason becomes the Reply-Message. An MS-CHAPv2 Accept also
// carries MS-CHAP2-Success (the server's proof that it knew the password)
// and the MPPE keys (RFC 2548, RFC 3079); a failed one MS-CHAP-Error.
//
// # What is dropped
//
// A packet that does not parse, an Accounting-Request whose authenticator
// is wrong (a wrong secret or a forgery), any packet whose
// Message-Authenticator is wrong, and, with RequireMessageAuthenticator,
// an Access-Request without one (the BlastRADIUS attack forges replies to
// such requests) get no answer at all, as RFC 2865 §3 requires of a
// server: an answer would help an attacker probe. Each is counted in
// sitepulse_agent_radius_dropped_total{reason} and logged at most once a
// minute per reason. Every Access-Accept and -Reject carries a
// Message-Authenticator as its first attribute; an Accounting-Response
// does when its request did. In accounting and dynamic-authorization
// packets (requests and answers) the Message-Authenticator is computed with
// a zeroed Authenticator field, as FreeRADIUS does (see msgauth.go).
// Passwords, secrets and hashes are never logged.
//
// # Duplicates
//
// The router retransmits a request it got no answer to, with the same
// Identifier and authenticator. Each socket keeps a bounded cache (8192
// entries, 30 s, oldest evicted first) keyed by source address and port,
// Identifier and Request Authenticator (RFC 5080 §2.2.2): a retransmission
// of an answered request gets the very bytes sent the first time, and a
// copy that arrives while the first is still being handled is dropped.
// The Decider is therefore asked once per request: a login is not decided
// twice (a voucher not used twice) and, above all, an accounting record is
// not applied twice when the router did not hear the first answer.
//
// # Accounting waits for durability
//
// An Accounting-Response tells the router it may forget the record; RouterOS
// then never sends it again. So the response is sent only after
// Decider.Account returned nil, which it does only once the record is in
// the agent's durable outbox. When it fails (a full disk, a shutdown) the
// request is left unanswered and forgotten by the duplicate cache, so the
// router's retransmission is handled afresh, and the record is applied
// exactly once when it finally succeeds.
//
// # Dynamic authorization
//
// Disconnect and ChangeAuthorization send a Disconnect-Request or
// CoA-Request (User-Name, Acct-Session-Id, Framed-IP-Address and
// Calling-Station-Id as set, Event-Timestamp against replays, a
// Message-Authenticator) to the router's /radius incoming port (3799),
// retry the same packet a few times while ctx allows, accept only an
// answer with the right Identifier, Response Authenticator and
// Message-Authenticator, and return a *NAKError (errors.Is ErrNAK) with the
// Error-Cause on a NAK.
package radius
