"""The Value TRInity: transaction, relationship and influence value."""
