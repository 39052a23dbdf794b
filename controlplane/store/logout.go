package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sitepulse/sitepulse/controlplane"
)

// RevokeTokenPlaintext revokes the token whose plaintext the caller holds:
// logout, where the request carries the token but not its id. Errors:
// EUNAUTHORIZED if no live token matches.
func (s *Store) RevokeTokenPlaintext(ctx context.Context, plaintext string) error {
	_, err := write(ctx, s, func(tx *dbtx) (struct{}, error) {
		var id int64
		err := tx.queryRow(ctx, `UPDATE api_tokens SET revoked_at = $1
			WHERE token_hash = $2 AND revoked_at IS NULL RETURNING id`, tx.now, secretHash(plaintext)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return struct{}{}, controlplane.Errorf(controlplane.EUNAUTHORIZED, "token is unknown or already revoked")
		}
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("revoke token by plaintext: %w", err)
	}
	return nil
}
