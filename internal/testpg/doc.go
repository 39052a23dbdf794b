// Package testpg gives tests a PostgreSQL database of their own.
//
// The server comes from SITEPULSE_TEST_DATABASE_URL, which .ci/run sets
// after starting PostgreSQL 15 on loopback. Without it a test is skipped on
// a laptop but fails under CI=true, so a broken CI setup can never pass by
// skipping the PostgreSQL half of a suite.
package testpg
