# Sourced by the scripts: parses `--name VALUE` options into the shell variables of the same name
# (dashes become underscores), which the script sets to their defaults first; -h/--help prints
# lines HELP_RANGE of the script. Anything else is a usage error (exit 2).
#   parse_options SCRIPT HELP_RANGE NAME... -- "$@"
parse_options() {
  local script="$1" help="$2" tag
  tag="$(basename "$script" .sh)"
  shift 2
  local allowed=" "
  while [ "$1" != "--" ]; do
    allowed+="$1 "
    shift
  done
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      -h|--help) sed -n "${help}p" "$script"; exit 0 ;;
      --*)
        local name="${1#--}"
        if [[ "$allowed" != *" $name "* ]]; then
          echo "$tag: unknown argument $1 (see --help)" >&2
          exit 2
        fi
        if [ $# -lt 2 ]; then
          echo "$tag: $1 needs a value (see --help)" >&2
          exit 2
        fi
        printf -v "${name//-/_}" '%s' "$2"
        shift 2
        ;;
      *) echo "$tag: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
  done
}
