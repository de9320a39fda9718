#!/usr/bin/env bash
# Install the Debian packages the book uses, when they are missing:
#   real speech and noise (see the preface for credits), ffmpeg, and Chromium for the browser tests.
# Needs root or sudo. Without them it prints the command and carries on: the corpus then
# falls back to synthetic speech (loudly), and the browser tests are skipped.
# SEDEMO_EXTENDED_VOICES=1 also installs the packages of the extended corpus's further voices
# (about 300 MB; `python -m sedemo.data build --voices extended`, see sedemo/data/voices.py);
# without it nothing more is installed, so CI and `make book` are unchanged.
# SEDEMO_NOISE_BANK=1 also installs 0ad-data (1.4 GB download, 3.2 GB installed), whose ambient
# recordings make the training noise bank (`make data-noise-bank`, sedemo/data/noise_bank.py),
# and gcompris-qt-data and scratch (about 70 MB), whose sounds make the extra bank
# (`make data-noise-bank`, `python -m sedemo.data noise-bank-extra`), and megaglest-data
# (240 MB), whose tileset ambiences make the nature bank (`python -m sedemo.data noise-bank-nature`).
set -u
PKGS="asterisk-core-sounds-en-g722 asterisk-core-sounds-fr-g722 asterisk-core-sounds-it-g722 \
asterisk-core-sounds-ru-g722 asterisk-core-sounds-en lincity-ng-data minetest-data sonic-pi-samples \
chromium chromium-driver python3-venv"
# keep in step with sedemo.data.voices.VOICE_SOURCES
EXTENDED_PKGS="tuxpaint-stamps-default gcin-voice klettres-data ktuberling-data \
flight-of-the-amazon-queen drascula drascula-spanish"
# npm: onnxruntime-web for the "Try it live" page (scripts/build_live_assets.sh), unless a
# Node.js install already brings it
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
if [ "${SEDEMO_EXTENDED_VOICES:-0}" = 1 ]; then
  PKGS="$PKGS $EXTENDED_PKGS"
fi
if [ "${SEDEMO_NOISE_BANK:-0}" = 1 ]; then
  PKGS="$PKGS 0ad-data gcompris-qt-data scratch megaglest-data"
fi
missing=""
for p in $PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "system-deps: all Debian packages present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not a Debian/Ubuntu system; missing:$missing" >&2
  echo "system-deps: the book will use the synthetic fallback corpus" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else
    echo "system-deps: run as root to install:$missing" >&2
    echo "  sudo apt-get install -y --no-install-recommends$missing" >&2
    echo "system-deps: continuing without them (synthetic fallback corpus)" >&2
    exit 0
  fi
fi
echo "system-deps: installing$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
