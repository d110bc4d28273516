#!/usr/bin/env bash
# pip install with retries: pip retries a refused connection itself, but a download that ends short fails
# its hash check and stops the install (seen in CI on a 59 MB openvino wheel). Sourced by the set-up scripts.
pip_install() {
  local attempt
  for attempt in 1 2 3 4; do
    if python -m pip install --retries 10 --timeout 60 "$@"; then
      return 0
    fi
    echo "pip_install: attempt $attempt failed; retrying in $((attempt * 10)) s" >&2
    sleep $((attempt * 10))
  done
  echo "pip_install: gave up after 4 attempts" >&2
  return 1
}
