package org.cascade;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * JNA direct mapping of the calls an application makes per packet
 * (cascade_send): a static native method costs a fraction of an
 * interface-mapped call (no proxy, no reflection), which is most of the
 * binding's cost per send. Only on LP64 (size_t as long); elsewhere, or if
 * registering fails, {@link #OK} is false and {@link Client} uses
 * {@link CascadeLibrary}. Addresses and commands are ASCII, so the default
 * string encoding of direct mapping is fine for them.
 */
final class Direct {
	static final boolean OK;
	static {
		boolean ok = false;
		if (Native.SIZE_T_SIZE == 8) {
			try {
				Native.register(Direct.class, NativeLibrary.getInstance(CascadeLibrary.Loader.name()));
				ok = true;
			} catch (UnsatisfiedLinkError | IllegalArgumentException e) {
				ok = false;
			}
		}
		OK = ok;
	}
	private Direct() {}

	static native int cascade_send(Pointer h, String dst, String command, byte[] payload, long len,
	    long ttlMs, int flags, byte[] idOut);
}
