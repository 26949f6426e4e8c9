"""The host-side models: the policy vocabulary (PolicyConfig), the DSP's SECMP0062 filter, its
incident store, and the alert and DSP-result streams they read.

Independent of the device limiter: nothing here imports firmware_model.limiter."""
