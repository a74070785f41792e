module github.com/biotz/biotz-iot-webhooks/examples/receivers/go

go 1.19
