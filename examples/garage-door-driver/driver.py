#!/usr/bin/env python3
"""A Bulwark driver for a garage-door opener, in Python's standard library only.

The hardware is two GPIO lines' `value` files: the opener's push-button relay (output; the
driver pulses it "1" then "0", as the wall button would) and the door's reed contact (input;
"1" when the door is closed). The capability `door` (kind lock, values open/closed, actions
open/close/get) always reports what the contact reads: an `act` answers the state at that
moment (a door takes seconds to move), and a `changed` follows when the contact moves.

    driver.py --relay /sys/class/gpio/gpio22/value --contact /sys/class/gpio/gpio23/value
"""
import argparse
import json
import os
import sys
import threading
import time

PROTOCOL = "bulwark.driver/v1"
MAX_LINE_BYTES = 65536
out_lock = threading.Lock()
state = {"initialized": False}


def send(message):
    message["jsonrpc"] = "2.0"
    with out_lock:
        sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
        sys.stdout.flush()


def read_door(contact):
    with open(contact, "r", encoding="ascii") as f:
        return "closed" if f.read().strip() == "1" else "open"


def pulse(relay, seconds):
    with open(relay, "w", encoding="ascii") as f:
        f.write("1\n")
    time.sleep(seconds)
    with open(relay, "w", encoding="ascii") as f:
        f.write("0\n")


def answer(args, request):
    method, params = request.get("method"), request.get("params") or {}
    if method == "initialize":
        ids = [c.get("id") for c in (params.get("model") or {}).get("capabilities", [])]
        if params.get("protocol") != PROTOCOL or "door" not in ids:
            raise ValueError("this driver serves bulwark.driver/v1 models with a door")
        state["initialized"] = True
        return {"name": "example-garage-door", "version": "1.0.0"}
    if method not in ("get", "act") or params.get("capability") != "door":
        raise ValueError("unknown method or capability")
    door, action = read_door(args.contact), params.get("action", "get")
    if (action == "open" and door == "closed") or (action == "close" and door == "open"):
        pulse(args.relay, args.pulse)
    elif action not in ("open", "close", "get"):
        raise ValueError("unknown action")
    return {"value": read_door(args.contact)}


def watch(args, stop):
    last = None
    while not stop.wait(args.poll):
        try:
            door = read_door(args.contact)
        except OSError as e:
            send({"method": "fault", "params": {"message": f"contact unreadable: {e.strerror}"}})
            continue
        if state["initialized"] and door != last:
            last = door
            send({"method": "changed", "params": {"capability": "door", "value": door}})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relay", default=os.environ.get("GARAGE_RELAY"), required="GARAGE_RELAY" not in os.environ)
    parser.add_argument("--contact", default=os.environ.get("GARAGE_CONTACT"), required="GARAGE_CONTACT" not in os.environ)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--pulse", type=float, default=0.5, help="seconds the relay is held")
    args = parser.parse_args()
    stop = threading.Event()
    threading.Thread(target=watch, args=(args, stop), daemon=True).start()
    for line in iter(lambda: sys.stdin.buffer.readline(MAX_LINE_BYTES + 1), b""):
        if not line.endswith(b"\n") and len(line) > MAX_LINE_BYTES:
            while line and not line.endswith(b"\n"):  # drop the rest of a too-long line unread
                line = sys.stdin.buffer.readline(MAX_LINE_BYTES)
            continue
        try:
            request = json.loads(line)
            rid = request["id"]
        except (ValueError, TypeError, KeyError):
            continue
        try:
            send({"id": rid, "result": answer(args, request)})
        except ValueError as e:
            send({"id": rid, "error": {"code": -32602, "message": str(e)}})
        except OSError as e:
            send({"id": rid, "error": {"code": -32000, "message": f"hardware: {e.strerror}"}})
    stop.set()


if __name__ == "__main__":
    main()
