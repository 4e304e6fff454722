// Package integration_test holds end-to-end tests across ggprior's packages:
// the workflows a user runs (train, checkpoint, resume, analyse) held together.
package integration_test
