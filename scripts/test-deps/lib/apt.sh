# Sourced by scripts/test-deps/*.sh (not run by scripts/test.sh, which runs only the scripts one level up).
# apt_install NAME PACKAGE... installs Debian packages as root or through password-less sudo. It never fails the
# test run: when it cannot install it says so on stderr (naming the test that will be skipped) and returns 1.

APT_SUDO=()

apt_ready() {  # apt_ready NAME: whether apt-get can run as root here; sets APT_SUDO
  local name="$1"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test-deps/$name: not installed and no apt-get; the $name test will be skipped" >&2
    return 1
  fi
  APT_SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      APT_SUDO=(sudo -n)
    else
      echo "test-deps/$name: not root and no password-less sudo; install it by hand to run the $name test" >&2
      return 1
    fi
  fi
}

apt_install() {  # apt_install NAME PACKAGE...
  local name="$1"
  shift
  apt_ready "$name" || return 1
  echo "test-deps/$name: installing the Debian package(s) $*" >&2
  if ! { "${APT_SUDO[@]}" apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive "${APT_SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" \
      >/dev/null; }; then
    echo "test-deps/$name: apt-get install $* failed; the $name test will be skipped" >&2
    return 1
  fi
}
