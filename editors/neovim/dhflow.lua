-- dhflow in Neovim (0.10+): filetype, the language server, and format on request.
-- Put this file in ~/.config/nvim/plugin/ (or require it from your init.lua).
vim.filetype.add({ extension = { dhflow = "dhflow" } })

vim.api.nvim_create_autocmd("FileType", {
  pattern = "dhflow",
  callback = function(args)
    vim.bo[args.buf].commentstring = "# %s"
    vim.bo[args.buf].expandtab = true
    vim.bo[args.buf].shiftwidth = 4
    vim.lsp.start({
      name = "dhflow",
      cmd = { "dhflow", "lsp" },
      root_dir = vim.fs.root(args.buf, { ".git", ".dhflow" }) or vim.fn.getcwd(),
    })
  end,
})
