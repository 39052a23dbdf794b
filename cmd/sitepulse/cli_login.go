package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/client"
)

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:     "login",
		Category: fieldCategory,
		Usage:    "log in to a control plane and keep the token for the other commands",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "credentials", Value: defaultCredentialsPath(), Usage: "where to keep the token", Sources: cli.EnvVars("SITEPULSE_CREDENTIALS")},
			&cli.StringFlag{Name: "server", Value: "http://127.0.0.1:8080", Usage: "control plane URL", Sources: cli.EnvVars("SITEPULSE_SERVER")},
			&cli.StringFlag{Name: "email", Usage: "your login email", Required: true, Sources: cli.EnvVars("SITEPULSE_EMAIL")},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from standard input (else SITEPULSE_PASSWORD, else a prompt)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			password := os.Getenv("SITEPULSE_PASSWORD")
			if cmd.Bool("password-stdin") || password == "" {
				if !cmd.Bool("password-stdin") {
					fmt.Fprint(cmd.Root().ErrWriter, "Password: ")
				}
				line, err := bufio.NewReader(cmd.Root().Reader).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("read password: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
			}
			if password == "" {
				return errors.New("no password given")
			}
			c := client.New(cmd.String("server"), client.Options{})
			res, err := c.Login(ctx, cmd.String("email"), password)
			if err != nil {
				return fmt.Errorf("login: %w", err)
			}
			path := cmd.String("credentials")
			creds := credentials{Server: c.BaseURL(), Email: res.User.Email, Token: res.Token, ExpiresAt: res.ExpiresAt}
			if err := saveCredentials(path, creds); err != nil {
				return err
			}
			fmt.Fprintf(cmd.Root().Writer, "logged in to %s as %s (%s); token kept in %s\n", c.BaseURL(), res.User.Email, res.User.Role, path)
			return nil
		},
	}
}

func logoutCommand() *cli.Command {
	return &cli.Command{
		Name:     "logout",
		Category: fieldCategory,
		Usage:    "revoke the stored token and forget it",
		Flags:    fieldFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			f, err := newField(cmd)
			if err != nil {
				return err
			}
			if err := f.c.Logout(ctx); err != nil {
				var ae *client.Error
				if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
					return fmt.Errorf("logout: %w", err)
				}
			}
			if err := os.Remove(cmd.String("credentials")); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			fmt.Fprintln(f.out, "logged out")
			return nil
		},
	}
}
