// Package telegram sends Telegram bot messages (sendMessage). The bot
// token is part of every request's URL; errors and logs never carry it.
package telegram
