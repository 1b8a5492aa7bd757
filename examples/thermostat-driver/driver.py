#!/usr/bin/env python3
"""A Bulwark driver for a thermostat, in Python's standard library only.

The hardware is two files, as Linux shows it: the heating relay is a GPIO line's `value` file
(sysfs, "0" or "1"), the temperature a hwmon sensor's `temp1_input` (millidegrees Celsius).
The driver keeps the setpoint, switches the relay around it with a small hysteresis, and speaks
the Bulwark driver protocol (docs/driver.md): JSON-RPC 2.0, one message a line on stdin/stdout.

    driver.py --relay /sys/class/gpio/gpio17/value --temperature /sys/class/hwmon/hwmon0/temp1_input

The paths may also come from THERMOSTAT_RELAY and THERMOSTAT_TEMPERATURE.
"""
import argparse
import json
import os
import sys
import threading

PROTOCOL = "bulwark.driver/v1"
MAX_LINE_BYTES = 65536
NAME, VERSION = "example-thermostat", "1.0.0"
HARDWARE_FAILED, INVALID_PARAMS, METHOD_NOT_FOUND, NOT_INITIALIZED = -32000, -32602, -32601, -32002


class Thermostat:
    """The hardware and the control loop; every method may be called from either thread."""

    def __init__(self, relay_path, temperature_path, hysteresis):
        self.relay_path = relay_path
        self.temperature_path = temperature_path
        self.hysteresis = hysteresis
        self.setpoint = 20.0
        self.lock = threading.Lock()

    def temperature(self):
        with open(self.temperature_path, "r", encoding="ascii") as f:
            return int(f.read().strip()) / 1000.0

    def heating(self):
        with open(self.relay_path, "r", encoding="ascii") as f:
            return f.read().strip() == "1"

    def set_heating(self, on):
        with open(self.relay_path, "w", encoding="ascii") as f:
            f.write("1\n" if on else "0\n")

    def control(self):
        """Switches the relay if the temperature left the band; returns the relay's state after."""
        with self.lock:
            now, on = self.temperature(), self.heating()
            if not on and now < self.setpoint - self.hysteresis:
                self.set_heating(True)
                return True
            if on and now > self.setpoint + self.hysteresis:
                self.set_heating(False)
                return False
            return on


class Driver:
    def __init__(self, thermostat, poll_seconds):
        self.hw = thermostat
        self.poll_seconds = poll_seconds
        self.model = None
        self.out_lock = threading.Lock()
        self.stop = threading.Event()

    def send(self, message):
        message["jsonrpc"] = "2.0"
        line = json.dumps(message, separators=(",", ":")) + "\n"
        with self.out_lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def notify(self, method, **params):
        if self.model is not None:
            self.send({"method": method, "params": params})

    def capability(self, cap_id):
        for c in self.model["capabilities"] if self.model else []:
            if c.get("id") == cap_id:
                return c
        raise LookupError(f"no capability {cap_id!r}")

    def in_range(self, cap_id, value):
        vt = self.capability(cap_id)["value"]
        return vt.get("type") == "number" and vt["min"] <= value <= vt["max"]

    def initialize(self, params):
        if params.get("protocol") != PROTOCOL:
            raise ValueError(f"protocol must be {PROTOCOL}")
        model = params.get("model")
        ids = {c.get("id") for c in model.get("capabilities", [])} if isinstance(model, dict) else set()
        if not {"setpoint", "temperature"} <= ids:
            raise ValueError("this driver serves a model with setpoint and temperature")
        self.model = model
        return {"name": NAME, "version": VERSION}

    def get(self, cap_id):
        if cap_id == "setpoint":
            return self.hw.setpoint
        if cap_id == "temperature":
            return self.hw.temperature()
        if cap_id == "heating":
            return self.hw.heating()
        raise LookupError(f"no capability {cap_id!r}")

    def act(self, cap_id, action, value):
        if action == "get":
            return self.get(cap_id)
        if cap_id == "setpoint" and action == "set" and isinstance(value, (int, float)):
            if not self.in_range("setpoint", value):
                raise ValueError("setpoint out of range")
            self.hw.setpoint = float(value)
            self.notify("changed", capability="heating", value=self.hw.control())
            return self.hw.setpoint
        raise ValueError(f"cannot {action} {cap_id}")

    def handle(self, request):
        method, params, rid = request.get("method"), request.get("params") or {}, request.get("id")
        try:
            if method == "initialize":
                result = self.initialize(params)
            elif method not in ("get", "act"):
                return self.send({"id": rid, "error": {"code": METHOD_NOT_FOUND, "message": "unknown method"}})
            elif self.model is None:
                return self.send({"id": rid, "error": {"code": NOT_INITIALIZED, "message": "not initialized"}})
            elif method == "get":
                result = {"value": self.get(params.get("capability"))}
            else:
                result = {"value": self.act(params.get("capability"), params.get("action"), params.get("value"))}
        except (LookupError, ValueError, TypeError) as e:
            return self.send({"id": rid, "error": {"code": INVALID_PARAMS, "message": str(e)[:200]}})
        except OSError as e:
            return self.send({"id": rid, "error": {"code": HARDWARE_FAILED, "message": f"hardware: {e.strerror}"}})
        self.send({"id": rid, "result": result})

    def poll(self):
        """Every poll interval: report a moved temperature, run the control loop, report the relay."""
        last_temperature, last_heating = None, None
        while not self.stop.wait(self.poll_seconds):
            if self.model is None:
                continue
            try:
                now = self.hw.temperature()
                heating = self.hw.control()
            except (OSError, ValueError) as e:
                self.notify("fault", message=f"cannot read the hardware: {e}"[:200])
                continue
            if now != last_temperature:
                last_temperature = now
                if self.in_range("temperature", now):
                    self.notify("changed", capability="temperature", value=now)
                else:
                    self.notify("fault", message=f"temperature {now} is outside the sensor's range")
            if heating != last_heating:
                last_heating = heating
                self.notify("changed", capability="heating", value=heating)

    def serve(self):
        threading.Thread(target=self.poll, daemon=True).start()
        stdin = sys.stdin.buffer
        while True:
            line = stdin.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                while line and not line.endswith(b"\n"):  # drop the rest of a too-long line unread
                    line = stdin.readline(MAX_LINE_BYTES)
                continue
            try:
                request = json.loads(line)
            except ValueError:
                self.send({"id": None, "error": {"code": -32700, "message": "parse error"}})
                continue
            if isinstance(request, dict) and isinstance(request.get("id"), int):
                self.handle(request)
        self.stop.set()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relay", default=os.environ.get("THERMOSTAT_RELAY"))
    parser.add_argument("--temperature", default=os.environ.get("THERMOSTAT_TEMPERATURE"))
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between reads of the sensor")
    parser.add_argument("--hysteresis", type=float, default=0.5, help="degrees C either side of the setpoint")
    args = parser.parse_args()
    if not args.relay or not args.temperature:
        parser.error("--relay and --temperature (or THERMOSTAT_RELAY and THERMOSTAT_TEMPERATURE) are required")
    Driver(Thermostat(args.relay, args.temperature, args.hysteresis), args.poll).serve()


if __name__ == "__main__":
    main()
