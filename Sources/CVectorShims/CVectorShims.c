// Everything is in include/CVectorShims.h (static inline); SwiftPM needs one source file.
