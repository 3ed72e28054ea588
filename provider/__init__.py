"""The `otp` component package host (see PulumiPlugin.yaml)."""
