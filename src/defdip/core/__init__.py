"""The first stage: model files, names, strict YAML, scenarios, shipped resources, errors."""
