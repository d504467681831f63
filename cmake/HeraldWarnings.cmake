# Warnings for every target of ours: -Wall -Wextra and a few that catch real
# bugs in C (implicit declarations, shadowed locals, bad format strings).
function(herald_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes
    -Wmissing-prototypes -Werror=implicit-function-declaration
    -Wno-unused-parameter)
  if(HERALD_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
endfunction()
