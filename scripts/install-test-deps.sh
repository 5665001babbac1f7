#!/usr/bin/env bash
# Debian packages the test suite needs that npm cannot provide. Idempotent:
# installs only what is missing. Called from .ci/run before `npm test`.
set -euo pipefail

# Headless browser for test/browser (driven by playwright-core, which never
# downloads a browser of its own).
command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y --no-install-recommends chromium)
