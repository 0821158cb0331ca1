#!/usr/bin/env bash
# Makes the example task's data available offline: installs Debian's dataset-fashion-mnist
# package if missing and links its files into keras' cache (~/.keras/datasets/fashion-mnist/),
# where tf.keras.datasets.fashion_mnist.load_data() finds them without a download.
# MNIST itself is downloaded by keras on first use when online. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
SRC=/usr/share/datasets/fashion-mnist
FILES="train-labels-idx1-ubyte.gz train-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz"

if [ ! -f "$SRC/train-images-idx3-ubyte.gz" ]; then
  command -v apt-get >/dev/null || dml_die "apt-get not found: install Fashion-MNIST into $SRC yourself"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  dml_log "installing dataset-fashion-mnist"
  $SUDO apt-get install -y dataset-fashion-mnist >/dev/null
fi

DEST="$HOME/.keras/datasets/fashion-mnist"
mkdir -p "$DEST"
for f in $FILES; do
  [ -f "$SRC/$f" ] || dml_die "$SRC/$f is missing"
  [ -e "$DEST/$f" ] && [ -s "$DEST/$f" ] && continue
  ln -sfn "$SRC/$f" "$DEST/$f"
done
dml_log "Fashion-MNIST available offline in $DEST"
