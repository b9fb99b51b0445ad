"""Pure planning functions for the AWS components: layouts, names and policy documents."""
