module coderun.local/tools/nats-client

go 1.26.0

require (
	github.com/nats-io/jwt/v2 v2.7.3
	github.com/nats-io/nats.go v1.32.0
	github.com/nats-io/nkeys v0.4.16
)

require (
	github.com/klauspost/compress v1.20.0 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
)
