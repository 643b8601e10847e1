/*
 * tlsprobe.c — why a tls connection does not come up, in words.
 *
 * nng's tls+tcp (mbedTLS in Debian 12's nng 1.5.2) tells neither side why
 * a handshake failed: the dialer just retries, no pipe event comes, no
 * error is returned. So when a tls link stays down, the child makes one
 * handshake of its own with OpenSSL, against the same ca and for the same
 * host name, and reports what OpenSSL finds: no connection, no tls, a
 * certificate from another CA, or one for another name.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "packets.h"

/* A blocking connect to host:port within timeout_ms; the fd or -1 with msg. */
static int
probe_connect(const char *host, unsigned port, int timeout_ms, char *msg, size_t msglen)
{
	struct addrinfo hints, *res, *ai;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char ports[16];
	int fd = -1, rc, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ports, sizeof(ports), "%u", port);
	if ((rc = getaddrinfo(host, ports, &hints, &res)) != 0) {
		snprintf(msg, msglen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t sl = sizeof(err);

		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol)) < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		if (err == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, timeout_ms) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0)
				break;
			if (err == EINPROGRESS)
				err = ETIMEDOUT;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(msg, msglen, "no connection to %s:%u: %s", host, port, strerror(err));
		return -1;
	}
	/* the handshake below is blocking, bounded by these */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* The names a certificate is for: its DNS and IP subjectAltNames, else its CN. */
static void
cert_names(X509 *x, char *out, size_t outlen)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t off = 0;
	int i;

	out[0] = '\0';
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[64] = "";
		const char *name = NULL;

		if (g->type == GEN_DNS)
			name = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
		else if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4) {
			const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);

			snprintf(ip, sizeof(ip), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
			name = ip;
		}
		if (name != NULL && off < outlen)
			off += (size_t)snprintf(out + off, outlen - off, "%s%s", off ? ", " : "", name);
	}
	GENERAL_NAMES_free(gens);
	if (out[0] == '\0')
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)outlen);
}

int
ctls_probe(const char *host, unsigned port, const char *cafile, int timeout_ms, char *msg,
    size_t msglen)
{
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *peer = NULL;
	long vr;
	int fd, rc = -1;

	if ((fd = probe_connect(host, port, timeout_ms, msg, msglen)) < 0)
		return -1;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (ssl = SSL_new(ctx)) == NULL) {
		snprintf(msg, msglen, "openssl: %s", ERR_reason_error_string(ERR_get_error()));
		goto done;
	}
	if (cafile != NULL && SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
		snprintf(msg, msglen, "ca %s: %s", cafile, ERR_reason_error_string(ERR_get_error()));
		goto done;
	}
	/* verify, but finish the handshake to see the certificate and say why */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	/* names compared as mbedTLS does for nng: the url's host against the
	 * certificate's names (an address, too, as text) */
	SSL_set1_host(ssl, host);
	SSL_set_tlsext_host_name(ssl, host);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		unsigned long e = ERR_get_error();

		snprintf(msg, msglen, "tls handshake with %s:%u failed: %s", host, port,
		    e != 0 ? ERR_reason_error_string(e) : "the peer closed the connection "
		    "(not a tls listener?)");
		goto done;
	}
	if ((peer = SSL_get1_peer_certificate(ssl)) == NULL) {
		snprintf(msg, msglen, "%s:%u sent no certificate", host, port);
		goto done;
	}
	vr = SSL_get_verify_result(ssl);
	if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH) {
		char names[256];

		cert_names(peer, names, sizeof(names));
		snprintf(msg, msglen, "the certificate is for %s, the url names %s", names, host);
		rc = CTLS_UNVERIFIED;
	} else if (vr != X509_V_OK) {
		char subj[256] = "", iss[256] = "";

		X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, subj,
		    sizeof(subj));
		X509_NAME_get_text_by_NID(X509_get_issuer_name(peer), NID_commonName, iss,
		    sizeof(iss));
		snprintf(msg, msglen, "the certificate (%s, issued by %s) does not verify against "
		    "ca %s: %s", subj, iss, cafile != NULL ? cafile : "(none)",
		    X509_verify_cert_error_string(vr));
		rc = CTLS_UNVERIFIED;
	} else {
		snprintf(msg, msglen, "a tls handshake with %s:%u verifies", host, port);
		rc = 0;
	}
	SSL_shutdown(ssl);
done:
	X509_free(peer);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return rc;
}
