# shellcheck shell=bash
# Sourced by the test scripts that put the shipped nginx site (server-ref/deploy/nginx.conf)
# in front of a running xnonce-server, as an operator would: TLS on the public side with the
# test CA's certificate for localhost (client-rs/tests/fixtures/tls), everything else as
# shipped but for the addresses.
#
# nginx_front DIR UPSTREAM_PORT: installs nginx (apt-get) when missing, starts it with its
# files under DIR (created) in front of 127.0.0.1:UPSTREAM_PORT, and sets `nginx_port` to the
# free loopback port it listens on (https://localhost:$nginx_port; trust
# $NGINX_FRONT_CA). Returns non-zero, showing nginx's log, when it cannot start.
# nginx_front_stop DIR: stops the nginx started with DIR, if it runs.

# shellcheck disable=SC2034 # read by the scripts that source this one
NGINX_FRONT_CA=client-rs/tests/fixtures/tls/ca.pem

nginx_front() {
  local dir=$1 upstream_port=$2 tls=client-rs/tests/fixtures/tls port attempt sudo
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || {
    echo "== installing nginx (apt-get)"
    sudo=; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx >/dev/null
  }
  local nginx
  nginx=$(command -v nginx || echo /usr/sbin/nginx)
  nginx_port=
  mkdir -p "$dir/temp"
  for attempt in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # The site file as shipped, but for the addresses and the certificate.
    sed -e "s#server 127.0.0.1:8080;#server 127.0.0.1:$upstream_port;#" \
      -e "s#listen 443 ssl;#listen 127.0.0.1:$port ssl;#" -e '/listen \[::\]:443 ssl;/d' \
      -e "s#/etc/ssl/xnonce/fullchain.pem#$PWD/$tls/server.pem#" \
      -e "s#/etc/ssl/xnonce/privkey.pem#$PWD/$tls/server.key#" \
      server-ref/deploy/nginx.conf > "$dir/site.conf"
    grep -q "listen 127.0.0.1:$port ssl;" "$dir/site.conf" || { echo "nginx.conf: no 'listen 443 ssl;' to move"; return 1; }
    grep -q "server 127.0.0.1:$upstream_port;" "$dir/site.conf" || { echo "nginx.conf: no upstream 127.0.0.1:8080 to move"; return 1; }
    cat > "$dir/nginx.conf" <<NGINX
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $dir/temp/body;
  proxy_temp_path $dir/temp/proxy;
  fastcgi_temp_path $dir/temp/fastcgi;
  uwsgi_temp_path $dir/temp/uwsgi;
  scgi_temp_path $dir/temp/scgi;
  include $dir/site.conf;
}
NGINX
    : > "$dir/error.log"
    if "$nginx" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" 2>> "$dir/error.log"; then
      # shellcheck disable=SC2034 # the result, read by the scripts that source this one
      nginx_port=$port
      return 0
    fi
    # Free a moment ago, taken before nginx bound it: another port.
    grep -q "Address already in use" "$dir/error.log" || { cat "$dir/error.log"; return 1; }
    echo "nginx: port $port was taken before it bound it (attempt $attempt); another port"
  done
  echo "nginx: every port tried was taken"
  return 1
}

nginx_front_stop() {
  if [ -f "$1/nginx.pid" ]; then kill -TERM "$(cat "$1/nginx.pid")" 2>/dev/null || true; fi
}
