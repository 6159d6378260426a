"""Built-in models, one module each, plus the registry that names them."""
