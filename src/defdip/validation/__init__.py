"""The model's tests: reality checks, structural and behavioural tests, history, calibration."""
