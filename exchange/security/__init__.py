"""Security controls that apply to every response or request."""
