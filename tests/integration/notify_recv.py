# The offline-notice receiver of offline_notify.sh and notify_client.sh:
#   python3 notify_recv.py DIR PORT
# records every POST as one line "STATUS TIME_MS KEY CONTENT-TYPE BODY" in
# DIR/posts.txt. While DIR/fail holds a number N > 0 it answers 500 and
# writes N-1; "always" answers 500 every time.
import http.server, sys, time, os
d, port = sys.argv[1], int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', '0'))).decode()
        st, f = 200, os.path.join(d, 'fail')
        try:
            v = open(f).read().strip()
        except OSError:
            v = ''
        if v == 'always':
            st = 500
        elif v.isdigit() and int(v) > 0:
            st = 500
            open(f, 'w').write(str(int(v) - 1))
        with open(os.path.join(d, 'posts.txt'), 'a') as o:
            o.write('%d %d %s %s %s\n' % (st, int(time.time() * 1000),
                    self.headers.get('Idempotency-Key', '-'),
                    self.headers.get('Content-Type', '-'), body))
        self.send_response(st)
        self.send_header('Content-Length', '0')
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(('127.0.0.1', port), H).serve_forever()
