"""Dataset import and export, one module per format."""
