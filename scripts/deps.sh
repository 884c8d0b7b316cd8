#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, only those missing.
set -euo pipefail
pkgs=(
  build-essential pkg-config libgtk-3-dev libwebkit2gtk-4.1-dev   # desktop build (Wails, WebKitGTK 4.1)
  xvfb xauth imagemagick xdotool                                  # desktop window under Xvfb, screenshots, typing
  chromium                                                        # web client end-to-end tests
  iproute2 avahi-utils avahi-daemon dbus                          # mDNS tests in network namespaces
  fonts-dejavu-core fonts-noto-color-emoji                        # readable screenshots (emoji reactions too)
  curl python3                                                    # test scripts
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: done"
