package org.cascade;

import com.sun.jna.CallbackThreadInitializer;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One attachment to a cascade node: a libcascade handle (cascade_t).
 *
 * <pre>
 * try (Client c = Client.builder("tcp://county:7400", "fj-xm-a/dr-lin", "/etc/cascade/dr-lin.secret")
 *         .onPacket((client, p) -&gt; { if (!p.isNotice()) client.reply(p, "echo", p.payload); })
 *         .open()) {
 *     Packet answer = c.request("fj-p1/expert", "consult.ask", body, 30000).get();
 *     c.send("fj-p1/expert", "consult.note", note);
 *     c.flush(10000);
 * }
 * </pre>
 *
 * Threads: every listener (packets, state, log, and the completion of a
 * request's future with whatever runs on it) runs on the SDK's own thread
 * of this Client, one at a time, as in C (libcascade(3)). A listener may
 * call send, request, reply and cancel on its Client, not close or flush
 * (they throw ECALLBACK), and should return quickly: while it runs the
 * Client neither receives nor sends. Never block on a request's future
 * inside a listener of the same Client.
 *
 * A listener that throws does not reach C: the exception is logged
 * (java.util.logging, "org.cascade") and the listener counts as returned;
 * for a packet that means it counts as delivered and is not handed over
 * again.
 */
public final class Client implements AutoCloseable {
	private static final CascadeLibrary C = CascadeLibrary.C;
	private static final Logger LOG = Logger.getLogger("org.cascade");

	/** A received data packet or notice; on the SDK thread. */
	public interface PacketListener { void onPacket(Client client, Packet packet); }
	/** A connection state change (Err.STATE_*); on the SDK thread. */
	public interface StateListener { void onState(Client client, int state, String detail); }
	/** One log line of the library (Err.LOG_*); on the SDK thread or the opening one. */
	public interface LogListener { void onLog(int level, String message); }

	/** The future of one request; {@link #id()} is the request's packet id. */
	public static final class Request extends CompletableFuture<Packet> {
		private final byte[] id = new byte[16];
		public byte[] id() { return id.clone(); }
	}

	/** Settings of one Client: each maps to a cascade_options_set_*() call. */
	public static final class Builder {
		private final String url, client, secretFile;
		private String caFile, certFile, keyFile, proxy, stateDir;
		private Integer carrier, queueMax, timeoutMs, deadTimeoutMs, reconnectMin, reconnectMax;
		private Long stateSize, replyTtlMs;
		private PacketListener onPacket;
		private StateListener onState;
		private LogListener onLog;
		private int logLevel = Err.LOG_WARN;

		Builder(String url, String client, String secretFile) {
			this.url = url; this.client = client; this.secretFile = secretFile;
		}
		public Builder caFile(String v) { caFile = v; return this; }
		public Builder clientCert(String cert, String key) { certFile = cert; keyFile = key; return this; }
		public Builder proxy(String v) { proxy = v; return this; }
		public Builder carrier(int v) { carrier = v; return this; }
		public Builder stateDir(String v) { stateDir = v; return this; }
		public Builder stateSize(long v) { stateSize = v; return this; }
		public Builder queueMax(int v) { queueMax = v; return this; }
		public Builder timeoutMs(int v) { timeoutMs = v; return this; }
		public Builder replyTtlMs(long v) { replyTtlMs = v; return this; }
		public Builder reconnectMs(int min, int max) { reconnectMin = min; reconnectMax = max; return this; }
		public Builder deadTimeoutMs(int v) { deadTimeoutMs = v; return this; }
		/** Without one the Client is send-only and request() is refused. */
		public Builder onPacket(PacketListener l) { onPacket = l; return this; }
		public Builder onState(StateListener l) { onState = l; return this; }
		/** Without one, lines go to java.util.logging "org.cascade". */
		public Builder onLog(LogListener l, int maxLevel) { onLog = l; logLevel = maxLevel; return this; }
		public Builder logLevel(int maxLevel) { logLevel = maxLevel; return this; }
		/** cascade_open(); throws CascadeException with the reason. */
		public Client open() { return new Client(this); }
	}

	public static Builder builder(String url, String client, String secretFile) {
		return new Builder(url, client, secretFile);
	}

	private volatile Pointer h;
	private PacketListener onPacket;   // set once, in the constructor
	private StateListener onState;
	private LogListener onLog;
	private final Map<Long, Request> requests = new ConcurrentHashMap<>();
	private final AtomicLong nextKey = new AtomicLong(1);
	// The callback objects live as long as the Client: C keeps their addresses.
	private final CascadeLibrary.PacketCb packetCb = (arg, hh, p) -> guard("packet", () -> {
		if (this.onPacket != null)
			this.onPacket.onPacket(this, Packet.of(p));
	});
	private final CascadeLibrary.StateCb stateCb = (arg, hh, state, detail) -> guard("state", () -> {
		if (this.onState != null)
			this.onState.onState(this, state, detail == null ? "" : detail);
	});
	private final CascadeLibrary.LogCb logCb = (arg, level, msg) -> guard("log", () -> {
		if (this.onLog != null)
			this.onLog.onLog(level, msg);
		else
			LOG.log(level <= Err.LOG_ERROR ? Level.SEVERE : level == Err.LOG_WARN ? Level.WARNING :
			    level == Err.LOG_INFO ? Level.INFO : Level.FINE, msg);
	});
	private final CascadeLibrary.RequestCb requestCb = (arg, hh, status, id, reply) -> guard("request", () -> {
		Request r = requests.remove(Pointer.nativeValue(arg));
		Packet p = Packet.of(reply);
		if (r == null)
			return;
		if (status == 0)
			r.complete(p);
		else
			r.completeExceptionally(new CascadeException(status, "request " + idText(idBytes(id)), p));
	});

	private Client(Builder b) {
		onPacket = b.onPacket; onState = b.onState; onLog = b.onLog;
		// The SDK thread stays attached to the JVM (as a daemon) between callbacks.
		CallbackThreadInitializer init = new CallbackThreadInitializer(true, false, "cascade-sdk");
		for (Object cb : new Object[] { packetCb, stateCb, logCb, requestCb })
			Native.setCallbackThreadInitializer((com.sun.jna.Callback)cb, init);
		PointerByReference ref = new PointerByReference();
		CascadeException.check(C.cascade_options_new(ref), "cascade_options_new");
		Pointer o = ref.getValue();
		try {
			CascadeException.check(C.cascade_options_set_url(o, b.url), "url " + b.url);
			CascadeException.check(C.cascade_options_set_client(o, b.client), "client address " + b.client);
			CascadeException.check(C.cascade_options_set_secret_file(o, b.secretFile), "secret file " + b.secretFile);
			if (b.caFile != null)
				CascadeException.check(C.cascade_options_set_ca_file(o, b.caFile), "ca file " + b.caFile);
			if (b.certFile != null)
				CascadeException.check(C.cascade_options_set_client_cert(o, b.certFile, b.keyFile), "client cert");
			if (b.proxy != null)
				CascadeException.check(C.cascade_options_set_proxy(o, b.proxy), "proxy " + b.proxy);
			if (b.carrier != null)
				CascadeException.check(C.cascade_options_set_carrier(o, b.carrier), "carrier");
			if (b.stateDir != null)
				CascadeException.check(C.cascade_options_set_state_dir(o, b.stateDir), "state dir " + b.stateDir);
			if (b.stateSize != null)
				CascadeException.check(C.cascade_options_set_state_size(o, b.stateSize), "state size");
			if (b.queueMax != null)
				CascadeException.check(C.cascade_options_set_queue_max(o, b.queueMax), "queue max");
			if (b.timeoutMs != null)
				CascadeException.check(C.cascade_options_set_timeout(o, b.timeoutMs), "timeout");
			if (b.replyTtlMs != null)
				CascadeException.check(C.cascade_options_set_reply_ttl(o, b.replyTtlMs), "reply ttl");
			if (b.reconnectMin != null)
				CascadeException.check(C.cascade_options_set_reconnect(o, b.reconnectMin, b.reconnectMax), "reconnect");
			if (b.deadTimeoutMs != null)
				CascadeException.check(C.cascade_options_set_dead_timeout(o, b.deadTimeoutMs), "dead timeout");
			if (b.onPacket != null)
				CascadeException.check(C.cascade_options_set_packet_cb(o, packetCb, null), "packet listener");
			CascadeException.check(C.cascade_options_set_state_cb(o, stateCb, null), "state listener");
			CascadeException.check(C.cascade_options_set_log_cb(o, logCb, null, b.logLevel), "log level");
			PointerByReference hr = new PointerByReference();
			CascadeException.check(C.cascade_open(o, hr), "opening " + b.client + " at " + b.url);
			h = hr.getValue();
		} finally {
			C.cascade_options_free(o);
		}
	}

	private static void guard(String what, Runnable r) {
		try {
			r.run();
		} catch (Throwable t) {   // nothing may unwind into C
			LOG.log(Level.SEVERE, "cascade: the " + what + " listener threw; the SDK goes on as if it had returned", t);
		}
	}

	private Pointer handle() {
		Pointer p = h;
		if (p == null)
			throw new CascadeException(Err.ECLOSED, "the Client is closed");
		return p;
	}

	private static CascadeLibrary.SizeT len(byte[] b) { return new CascadeLibrary.SizeT(b == null ? 0 : b.length); }

	/** cascade_send(): queues a packet and returns its id; ttlMs 0: never expires. */
	public byte[] send(String dst, String command, byte[] payload, long ttlMs, int flags) {
		byte[] id = new byte[16];
		Pointer hh = handle();
		int rc = Direct.OK
		    ? Direct.cascade_send(hh, dst, command, payload, payload == null ? 0 : payload.length, ttlMs, flags, id)
		    : C.cascade_send(hh, dst, command, payload, len(payload), ttlMs, flags, id);
		CascadeException.check(rc, "send to " + dst);
		return id;
	}

	/** As send(dst, command, payload, 0, 0). */
	public byte[] send(String dst, String command, byte[] payload) { return send(dst, command, payload, 0, 0); }

	public byte[] send(String dst, String command, String payload) {
		return send(dst, command, payload.getBytes(StandardCharsets.UTF_8));
	}

	/**
	 * cascade_request(): the future completes with the reply, or
	 * exceptionally with a CascadeException (ETIMEDOUT, EUNDELIVERABLE,
	 * EEXPIRED, EREJECTED, ECANCELLED, ECLOSED), on the SDK thread.
	 * timeoutMs 0: the Client's default.
	 */
	public Request request(String dst, String command, byte[] payload, int timeoutMs) {
		return request(dst, command, payload, timeoutMs, -1);
	}

	/** cascade_request_ttl() when ttlMs &gt;= 0 (0: never expires). */
	public Request request(String dst, String command, byte[] payload, int timeoutMs, long ttlMs) {
		Request r = new Request();
		long key = nextKey.getAndIncrement();
		requests.put(key, r);   // before the call: the answer may come before it returns
		Pointer arg = new Pointer(key);
		int rc = ttlMs < 0
		    ? C.cascade_request(handle(), dst, command, payload, len(payload), timeoutMs, requestCb, arg, r.id)
		    : C.cascade_request_ttl(handle(), dst, command, payload, len(payload), timeoutMs, ttlMs, requestCb, arg, r.id);
		if (rc != 0) {
			requests.remove(key);
			throw new CascadeException(rc, "request to " + dst);
		}
		return r;
	}

	/**
	 * cascade_request_flags(): as request(dst, command, payload, timeoutMs,
	 * ttlMs) with Err.FLAG_* (URGENT, RECEIPT, ...); ttlMs &lt; 0: the timeout.
	 */
	public Request request(String dst, String command, byte[] payload, int timeoutMs, long ttlMs,
	    int flags) {
		Request r = new Request();
		long key = nextKey.getAndIncrement();
		requests.put(key, r);   // before the call: the answer may come before it returns
		int rc = C.cascade_request_flags(handle(), dst, command, payload, len(payload), timeoutMs,
		    ttlMs < 0 ? timeoutMs : ttlMs, flags, requestCb, new Pointer(key), r.id);
		if (rc != 0) {
			requests.remove(key);
			throw new CascadeException(rc, "request to " + dst);
		}
		return r;
	}

	public Request request(String dst, String command, String payload, int timeoutMs) {
		return request(dst, command, payload.getBytes(StandardCharsets.UTF_8), timeoutMs);
	}

	/** cascade_reply(): answers a received data packet; returns the reply's id. */
	public byte[] reply(Packet received, String command, byte[] payload) {
		if (received.dup == null)
			throw new CascadeException(Err.EINVAL, "reply: a notice cannot be answered");
		byte[] id = new byte[16];
		CascadeException.check(C.cascade_reply(handle(), received.dup, command, payload, len(payload), id),
		    "reply to " + received.src);
		return id;
	}

	public byte[] reply(Packet received, String command, String payload) {
		return reply(received, command, payload.getBytes(StandardCharsets.UTF_8));
	}

	/** cascade_cancel(): returns the cancel packet's id; the outcome comes as a notice. */
	public byte[] cancel(byte[] id) {
		byte[] out = new byte[16];
		CascadeException.check(C.cascade_cancel(handle(), id, out), "cancel " + idText(id));
		return out;
	}

	/** cascade_flush(): waits until the node has custody of everything sent; negative: no limit. */
	public void flush(int timeoutMs) {
		CascadeException.check(C.cascade_flush(handle(), timeoutMs), "flush");
	}

	/** The connection state now (Err.STATE_*). */
	public int state() { return C.cascade_state(handle()); }

	/** One packet the node refused for good at push (cascadeFlushRejected). */
	public static final class Rejected {
		public final byte[] id;
		public final int reason;
		public final String why;
		Rejected(byte[] id, int reason, String why) { this.id = id; this.reason = reason; this.why = why; }
	}

	/** cascade_flush_rejected(): the packets the node refused for good at push, oldest first. */
	public java.util.List<Rejected> rejected() {
		java.util.List<Rejected> out = new java.util.ArrayList<>();
		for (int i = 0; ; i++) {
			byte[] id = new byte[16], why = new byte[256];
			com.sun.jna.ptr.IntByReference reason = new com.sun.jna.ptr.IntByReference();
			int rc = C.cascade_flush_rejected(handle(), i, id, reason, why,
			    new CascadeLibrary.SizeT(why.length));
			if (rc == Err.ENOTFOUND)
				return out;
			CascadeException.check(rc, "rejected");
			int n = 0;
			while (n < why.length && why[n] != 0)
				n++;
			out.add(new Rejected(id, reason.getValue(), new String(why, 0, n, StandardCharsets.UTF_8)));
		}
	}

	/** cascade_pause(): stops receiving; packets wait in the node's inbox. */
	public void pause() { CascadeException.check(C.cascade_pause(handle()), "pause"); }

	/** cascade_resume(): receives again after pause(). */
	public void resume() { CascadeException.check(C.cascade_resume(handle()), "resume"); }

	/** cascade_paused(). */
	public boolean paused() { return C.cascade_paused(handle()) == 1; }

	/** cascade_last_error(): the detail behind the latest error, or "". */
	public String lastError() {
		byte[] buf = new byte[512];
		CascadeException.check(C.cascade_last_error(handle(), buf, new CascadeLibrary.SizeT(buf.length)), "lastError");
		int n = 0;
		while (n < buf.length && buf[n] != 0)
			n++;
		return new String(buf, 0, n, StandardCharsets.UTF_8);
	}

	/** Packets in the outbox the node has not acknowledged yet. */
	public long pending() {
		LongByReference n = new LongByReference();
		CascadeException.check(C.cascade_pending(handle(), n), "pending");
		return n.getValue();
	}

	/** cascade_close(): pending requests end with ECLOSED; an unflushed memory outbox is lost. */
	@Override public synchronized void close() {
		Pointer p = h;
		if (p == null)
			return;
		CascadeException.check(C.cascade_close(p), "close");
		h = null;
	}

	// ------------------------------------------------------------- ids
	static byte[] idBytes(Pointer p) { return p == null ? null : p.getByteArray(0, 16); }

	/** The text form of a packet id. */
	public static String idText(byte[] id) {
		if (id == null)
			return "(none)";
		byte[] text = new byte[34];
		CascadeException.check(C.cascade_id_format(id, text, new CascadeLibrary.SizeT(text.length)), "cascade_id_format");
		return Native.toString(text, "UTF-8");
	}

	public static byte[] idParse(String text) {
		byte[] id = new byte[16];
		CascadeException.check(C.cascade_id_parse(text, id), "parsing packet id " + text);
		return id;
	}

	public static String version() { return C.cascade_version(null); }
	public static String reasonStr(int reason) { return C.cascade_reason_str(reason); }
}
