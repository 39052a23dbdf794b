// Command sitepulse-sms-sim simulates Africa's Talking's SMS API (with
// delivery reports) and the Telegram Bot API's sendMessage on one
// listener, with a loopback control API to script faults and list what
// was received. See package sim/smsgw.
package main
