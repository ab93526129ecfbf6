"""The rules of the product; they never see a request."""
