"""The Pulumi program and library that provision a liminal project's AWS platform."""
