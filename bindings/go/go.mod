module llmsvc/bindings/go

go 1.23
