def get_assert(output, context):
    return len(output) < 50
