"""End-to-end tests: `otp-local` as a child process, driven over real HTTP."""
