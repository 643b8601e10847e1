package org.cascade;

import com.sun.jna.Callback;
import com.sun.jna.IntegerType;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

import java.util.Map;

/**
 * The C API of libcascade (cascade.h) as JNA sees it. Binding a new C call
 * is one method here, named and typed as in cascade.h; handles are
 * {@link Pointer}s, ids are {@code byte[16]}, strings UTF-8.
 * Application code uses {@link Client} instead.
 */
public interface CascadeLibrary extends Library {
	/** size_t. */
	final class SizeT extends IntegerType {
		private static final long serialVersionUID = 1L;
		public SizeT() { this(0); }
		public SizeT(long v) { super(Native.SIZE_T_SIZE, v, true); }
	}

	interface PacketCb extends Callback { void invoke(Pointer arg, Pointer h, Pointer pkt); }
	interface StateCb extends Callback { void invoke(Pointer arg, Pointer h, int state, String detail); }
	interface LogCb extends Callback { void invoke(Pointer arg, int level, String msg); }
	interface RequestCb extends Callback {
		void invoke(Pointer arg, Pointer h, int status, Pointer id, Pointer reply);
	}

	/**
	 * The library: the path in the system property cascade.library or the
	 * environment variable CASCADE_LIBRARY, else "cascade" on JNA's search
	 * path (jna.library.path, then the system's).
	 */
	CascadeLibrary C = Native.load(Loader.name(), CascadeLibrary.class,
	    Map.of(Library.OPTION_STRING_ENCODING, "UTF-8"));

	final class Loader {
		private Loader() {}
		static String name() {
			String p = System.getProperty("cascade.library");
			if (p == null || p.isEmpty())
				p = System.getenv("CASCADE_LIBRARY");
			return p == null || p.isEmpty() ? "cascade" : p;
		}
	}

	// general
	String cascade_strerror(int code);
	String cascade_version(IntByReference number);
	int cascade_id_new(byte[] id);
	int cascade_id_format(byte[] id, byte[] text, SizeT len);
	int cascade_id_parse(String text, byte[] id);
	int cascade_address_check(String address);
	String cascade_reason_str(int reason);

	// options
	int cascade_options_new(PointerByReference opts);
	void cascade_options_free(Pointer opts);
	int cascade_options_set_url(Pointer opts, String url);
	int cascade_options_set_client(Pointer opts, String address);
	int cascade_options_set_secret_file(Pointer opts, String path);
	int cascade_options_set_ca_file(Pointer opts, String path);
	int cascade_options_set_client_cert(Pointer opts, String cert, String key);
	int cascade_options_set_proxy(Pointer opts, String url);
	int cascade_options_set_carrier(Pointer opts, int carrier);
	int cascade_options_set_packet_cb(Pointer opts, PacketCb cb, Pointer arg);
	int cascade_options_set_state_cb(Pointer opts, StateCb cb, Pointer arg);
	int cascade_options_set_log_cb(Pointer opts, LogCb cb, Pointer arg, int maxLevel);
	int cascade_options_set_state_dir(Pointer opts, String path);
	int cascade_options_set_state_size(Pointer opts, long bytes);
	int cascade_options_set_queue_max(Pointer opts, int packets);
	int cascade_options_set_timeout(Pointer opts, int ms);
	int cascade_options_set_reply_ttl(Pointer opts, long ms);
	int cascade_options_set_reconnect(Pointer opts, int minMs, int maxMs);
	int cascade_options_set_dead_timeout(Pointer opts, int ms);

	// open and close
	int cascade_open(Pointer opts, PointerByReference h);
	int cascade_close(Pointer h);

	// sending
	int cascade_send(Pointer h, String dst, String command, byte[] payload, SizeT len,
	    long ttlMs, int flags, byte[] idOut);
	int cascade_flush(Pointer h, int timeoutMs);
	int cascade_request(Pointer h, String dst, String command, byte[] payload, SizeT len,
	    int timeoutMs, RequestCb cb, Pointer arg, byte[] idOut);
	int cascade_request_ttl(Pointer h, String dst, String command, byte[] payload, SizeT len,
	    int timeoutMs, long ttlMs, RequestCb cb, Pointer arg, byte[] idOut);
	int cascade_reply(Pointer h, Pointer received, String command, byte[] payload, SizeT len,
	    byte[] idOut);
	int cascade_cancel(Pointer h, byte[] id, byte[] idOut);
	int cascade_state(Pointer h);
	int cascade_pending(Pointer h, LongByReference unacked);
	int cascade_request_flags(Pointer h, String dst, String command, byte[] payload, SizeT len,
	    int timeoutMs, long ttlMs, int flags, RequestCb cb, Pointer arg, byte[] idOut);
	int cascade_flush_rejected(Pointer h, int i, byte[] id, IntByReference reason, byte[] why,
	    SizeT whylen);
	int cascade_pause(Pointer h);
	int cascade_resume(Pointer h);
	int cascade_paused(Pointer h);
	int cascade_last_error(Pointer h, byte[] buf, SizeT len);

	// received packets
	Pointer cascade_packet_id(Pointer p);
	String cascade_packet_src(Pointer p);
	String cascade_packet_dst(Pointer p);
	String cascade_packet_command(Pointer p);
	Pointer cascade_packet_payload(Pointer p, Pointer len);  // len: a size_t slot
	int cascade_packet_flags(Pointer p);
	int cascade_packet_kind(Pointer p);
	int cascade_packet_notice(Pointer p);
	int cascade_packet_reason(Pointer p);
	String cascade_packet_text(Pointer p);
	Pointer cascade_packet_ref_id(Pointer p);
	Pointer cascade_packet_reply_to(Pointer p);
	long cascade_packet_ttl(Pointer p);
	SizeT cascade_packet_hops(Pointer p);
	int cascade_packet_hop(Pointer p, SizeT i, PointerByReference node, IntByReference down,
	    LongByReference arrivedMs, IntByReference heldMs);
	int cascade_packet_dup(Pointer p, PointerByReference copy);
	void cascade_packet_free(Pointer p);
}
