// Package notify is SitePulse's notification outbox: what the rest of the
// control plane wants told to a person (a receipt, a router alert, a
// welcome) becomes rows written in the transaction of its cause (NotifyTx),
// one per recipient and channel and unique per occurrence, and a River
// `notifications` queue sends them by email (SMTP), SMS (an HTTP gateway
// with Africa's Talking's API) or Telegram.
//
// "Once" here means at most once per (event, recipient, channel) with
// automatic retries only while the provider certainly did not take the
// message: an attempt is claimed in its own transaction before the send,
// so an attempt that ends without a result (a crash between send and
// commit, a timeout after the request went out) leaves the row "unknown"
// rather than sending again. SMTP has no idempotency key: a server that
// accepted DATA may deliver a message whose 250 reply we never read, and a
// manual resend of an unknown one may duplicate it; each message's
// Message-ID names the notification and its resend count.
//
// The package also runs the sweeps that cause notifications on their own:
// subscription expiry reminders and router offline alerts (one per
// outage, debounced so a flapping site sends one alert).
package notify
