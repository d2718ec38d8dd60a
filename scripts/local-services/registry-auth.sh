# Sourced, not run: curl's login to the local registry, whatever its authentication (token, basic
# or none), found out as a registry client does: from the challenge GET /v2/ answers.
# shellcheck shell=bash

# registry_curl_auth <registry> <ca file> <user:password> <scope>: sets REGISTRY_CURL_AUTH to the
# curl arguments that authenticate one scope (`repository:<name>:pull,delete`); a token lasts
# minutes, enough for a script's few requests. Returns 1 when the token server gives no token.
# shellcheck disable=SC2034 # REGISTRY_CURL_AUTH is read by the sourcing script
registry_curl_auth() {
  local registry="$1" ca="$2" login="$3" scope="$4" challenge realm service token
  REGISTRY_CURL_AUTH=()
  challenge="$(curl -s -o /dev/null -D - --max-time 10 --cacert "$ca" "https://$registry/v2/" |
    tr -d '\r' | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: *//p')"
  case "$challenge" in
    [Bb]earer*)
      realm="$(sed -n 's/.*realm="\([^"]*\)".*/\1/p' <<<"$challenge")"
      service="$(sed -n 's/.*service="\([^"]*\)".*/\1/p' <<<"$challenge")"
      token="$(curl -sf --max-time 10 --cacert "$ca" -u "$login" -G \
        --data-urlencode "service=$service" --data-urlencode "scope=$scope" "$realm" |
        jq -r '.token // empty')" || true
      [[ -n "$token" ]] || return 1
      REGISTRY_CURL_AUTH=(-H "Authorization: Bearer $token")
      ;;
    [Bb]asic*) REGISTRY_CURL_AUTH=(-u "$login") ;;
  esac
  return 0
}
