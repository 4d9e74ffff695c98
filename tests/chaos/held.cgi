#!/bin/sh
# tests/chaos/held.cgi — an answer held open after its headers (tests/chaos/held.py):
# the headers go out at once; the body waits until the file named by the
# query string exists (at most 20 s), so httpd's thread stays inside the
# answer for as long as the test needs.
release=$QUERY_STRING
case $release in
    /tmp/shop-test.*/held-release) ;;
    *) release= ;;
esac
printf 'Content-Type: text/plain\r\nContent-Length: 5\r\n\r\n'
i=0
while [ -n "$release" ] && [ ! -e "$release" ] && [ $i -lt 2000 ]; do
    sleep 0.01
    i=$((i + 1))
done
printf 'done\n'
