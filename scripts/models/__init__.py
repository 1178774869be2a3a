"""Build scripts that regenerate models/ from registry packages (not part of the runtime package)."""
