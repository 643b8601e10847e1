package org.cascade;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

import java.lang.ref.Cleaner;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A received packet or notice. Every field is copied out of the SDK's
 * buffers while the callback runs, so a Packet stays valid afterwards; a
 * data packet also keeps a cascade_packet_dup() copy so that
 * {@link Client#reply} works later (freed when the Packet is collected).
 */
public final class Packet {
	private static final CascadeLibrary C = CascadeLibrary.C;
	private static final Cleaner CLEANER = Cleaner.create();

	/** One node of the trace. */
	public static final class Hop {
		public final String node;
		public final boolean down;
		public final long arrivedMs;
		public final long heldMs;
		Hop(String node, boolean down, long arrivedMs, long heldMs) {
			this.node = node; this.down = down; this.arrivedMs = arrivedMs; this.heldMs = heldMs;
		}
		@Override public String toString() { return node + (down ? " (down)" : ""); }
	}

	public final byte[] id;
	public final String src, dst, command, text;
	public final byte[] payload;
	public final int flags, kind, notice, reason;
	public final byte[] refId, replyTo;   // null when none
	public final long ttlMs;
	public final List<Hop> hops;
	final Pointer dup;                    // null for a notice

	private Packet(Pointer p) {
		id = Client.idBytes(C.cascade_packet_id(p));
		src = C.cascade_packet_src(p);
		dst = C.cascade_packet_dst(p);
		command = C.cascade_packet_command(p);
		Memory n = new Memory(Native.SIZE_T_SIZE);
		Pointer data = C.cascade_packet_payload(p, n);
		long len = Native.SIZE_T_SIZE == 8 ? n.getLong(0) : n.getInt(0);
		payload = len > 0 ? data.getByteArray(0, (int)len) : new byte[0];
		flags = C.cascade_packet_flags(p);
		kind = C.cascade_packet_kind(p);
		notice = C.cascade_packet_notice(p);
		reason = C.cascade_packet_reason(p);
		text = C.cascade_packet_text(p);
		refId = Client.idBytes(C.cascade_packet_ref_id(p));
		replyTo = Client.idBytes(C.cascade_packet_reply_to(p));
		ttlMs = C.cascade_packet_ttl(p);
		long nh = C.cascade_packet_hops(p).longValue();
		List<Hop> h = new ArrayList<>();
		PointerByReference node = new PointerByReference();
		IntByReference down = new IntByReference(), held = new IntByReference();
		LongByReference arrived = new LongByReference();
		for (long i = 0; i < nh; i++)
			if (C.cascade_packet_hop(p, new CascadeLibrary.SizeT(i), node, down, arrived, held) == 0)
				h.add(new Hop(node.getValue().getString(0, "UTF-8"), down.getValue() != 0,
				    arrived.getValue(), held.getValue() & 0xffffffffL));
		hops = Collections.unmodifiableList(h);
		Pointer d = null;
		if (kind == Err.KIND_DATA) {
			PointerByReference ref = new PointerByReference();
			if (C.cascade_packet_dup(p, ref) == 0) {
				d = ref.getValue();
				final Pointer freeMe = d;
				CLEANER.register(this, () -> C.cascade_packet_free(freeMe));
			}
		}
		dup = d;
	}

	static Packet of(Pointer p) { return p == null ? null : new Packet(p); }

	public boolean isNotice() { return kind == Err.KIND_NOTICE; }
	public String payloadText() { return new String(payload, StandardCharsets.UTF_8); }
	public String idText() { return Client.idText(id); }

	@Override public String toString() {
		return (isNotice() ? "notice " + notice : command) + " " + idText() + " from " + src;
	}
}
